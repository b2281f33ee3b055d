"""One module per lesson (its data, figures and panels), and `common` for what they share.

A notebook imports its lesson: `from slowfast_lab.lessons import l03_laterals as L`. Nothing else
in the library imports this package.
"""
