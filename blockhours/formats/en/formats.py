# Dates written out in English: "Nov 23, 2026" (Django's own "N j, Y" adds a dot: "Nov. 23").
DATE_FORMAT = "M j, Y"
MONTH_DAY_FORMAT = "M j"
