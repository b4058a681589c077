"""The language model: loading it (`loading`), where the base comes from (`location`), and the
loss (`loss`)."""
