"""What billing tells the layers above it (payments) inside its own transaction.

A receiver runs in the transaction that issues the document, so what it
writes commits or rolls back with it; it queues any outside work after commit.
"""

from django.dispatch import Signal

# A credit note was issued (money goes back against a paid invoice): payments
# returns through Stripe what Stripe collected. Arguments: credit_note.
credit_note_issued = Signal()
