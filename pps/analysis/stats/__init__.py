"""Statistics of final scores and curves: estimators, bootstrap CIs, tests, and the tables."""
