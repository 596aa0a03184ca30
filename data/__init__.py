"""Data stage: raw MovieLens / IMDb files in, prepared CSVs for the TFX pipeline out."""
