# tests/e2e/local.mk - end-to-end tests with real sshd, su and pamtester (root only).
