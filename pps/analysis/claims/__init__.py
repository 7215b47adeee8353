"""The paper's claims: verdict words, the rules that give them, and their measured calibration."""
