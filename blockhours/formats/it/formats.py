# Dates written out in Italian: "23 nov 2026", day first.
DATE_FORMAT = "j M Y"
MONTH_DAY_FORMAT = "j M"
