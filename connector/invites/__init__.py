"""Invite codes and email invitations: two ways a person joins, both through the pipeline."""
