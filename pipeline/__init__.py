"""The TFX pipeline: create_pipeline, its config, and the runners."""
