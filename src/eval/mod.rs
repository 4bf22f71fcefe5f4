//! Instruments for security reviewers: image edits, the false-positive rate
//! of Bloom sets measured against the rate they state (and, as they grow,
//! rates, thresholds and attacks).

pub mod binomial;
pub mod bloom;
pub mod cache;
mod chain_adapter;
pub mod pairs;
pub mod rates;
pub mod transform;
