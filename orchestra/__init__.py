"""claude-orchestra: parallel AI coding agents in git worktrees and tmux windows."""

__version__ = "0.1.0"
