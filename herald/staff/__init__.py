"""Staff in the console: passwords, sign-in sessions, invitations and resets, the second factor,
and the organization's list of staff users."""
