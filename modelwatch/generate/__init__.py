"""Everything modelwatch writes for other programs and commits: rule files,
dashboards, compose and Kubernetes files, from the one configuration."""
