"""What a photographer's lens does with depth: blur by a thin lens's circle of confusion."""
