"""What leaves the archive for journalists and other tools: credit lines, licence-carrying copies
and ZIPs, and XMP sidecars with the corrected metadata."""
