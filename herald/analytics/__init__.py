"""Revenue analytics: attribution, acquisition and spend, cohorts, funnels, time series."""
