//! Instruments for security reviewers: image edits, the false-positive rate
//! of Bloom sets measured against the rate they state, what scanning costs a
//! device per message (and, as they grow, rates, thresholds and attacks).

pub mod attacks;
pub mod binomial;
pub mod bloom;
pub mod cache;
pub mod cost;
pub mod pairs;
pub mod rates;
pub mod transform;
