"""In-context transformers trained over the task generators (linear attention, softmax GPT, ReBased)."""
