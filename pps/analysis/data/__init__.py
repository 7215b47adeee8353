"""Analysis data: run folders in, `curves.csv` and `final.csv` out, and the (method, K) cells."""
