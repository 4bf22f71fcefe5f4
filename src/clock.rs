//! The one reading of the system clock as Unix seconds.

/// Seconds since the Unix epoch now, from the system clock (0 if the clock
/// is before 1970).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
