"""`orchestration dead-letters list|replay`: inspect and re-inject rejected inbound events.

`letters` is the pure part (parsing, previews, selection, replay decisions),
`kafka` the broker I/O (group-less reads, the compacted marker topic, one
transaction per replayed letter), `cli` the typer sub-app.
"""
