"""Direction ops, one module each, by registration (`registry.OPS`): what a
`sweep.derived_directions` entry or a merge sweep's op can be. `base` is the contract."""
