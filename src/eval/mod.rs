//! Instruments for security reviewers: image edits (and, as they grow,
//! rates, thresholds and attacks).

pub mod transform;
