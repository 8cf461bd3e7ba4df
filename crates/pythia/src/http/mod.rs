//! http (placeholder; owned by a helper)
