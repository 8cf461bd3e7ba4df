//! runtime (placeholder; owned by a helper)
