//! webhook (placeholder; owned by a helper)
