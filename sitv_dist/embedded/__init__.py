"""The embedded default: data written for this project, a locally trained tokenizer and a
tiny Llama-style base model pre-trained on the general corpus, so everything runs offline."""
