"""The relay (switching server): admits ticket holders and switches frames it cannot read.

It keeps live session state in memory only (members, roles, presenter, control holder,
lock) and bounded per-receiver queues; it never stores content.
"""
