//! The HTTP client loci uses (placeholder, being written).
