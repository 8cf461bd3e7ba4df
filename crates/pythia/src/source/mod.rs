//! source (placeholder; owned by a helper)
