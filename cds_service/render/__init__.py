"""Assessment -> CDS Hooks cards, worded by the templates in cards/."""
