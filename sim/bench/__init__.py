"""`mercato bench ...`: measurements printed as ratios taken in one run; presets are data."""
