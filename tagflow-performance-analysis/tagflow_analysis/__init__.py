"""Where tagflow's time goes, an optimization ladder, and the C++ engine's costs."""
