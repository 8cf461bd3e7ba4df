//! resilience (placeholder; owned by a helper)
