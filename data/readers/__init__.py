"""The dataset readers, one module per format, and their contract (`source`).

Each reader module gives a layout function (where a dataset's files are), a
`source.Source` (how a key becomes an example) and, when the format has
settings of its own, their frozen options type. data/datasets.py registers
each in one entry; docs/data.md, "Adding a dataset", walks through it.
"""
