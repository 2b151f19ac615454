"""Generated accounts (pupils, temps): readable usernames, generated passwords hashed across
cores in a job, credential sheets available once, and admin password resets."""
