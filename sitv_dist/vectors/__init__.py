"""Directions in weight space: task vectors T = ft − base stored as safetensors with metadata
(`taskvector`), directions derived from them — random controls, negations, sums, differences
(`derived`) — and their cosine similarities (`similarity`)."""
