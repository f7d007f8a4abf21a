"""What payments asks the layer above (notifications) to tell people.

Sent inside the transaction that records the change; the receivers record
their emails in it and queue the sending after commit. `topic` is unique per
occurrence, so a retried delivery records no second email.
"""

from django.dispatch import Signal

# A payment attempt failed: the client is told (with the pay link) and staff alerted.
# Arguments: invoice, topic, reason, pay_url.
payment_failed = Signal()
# Money that could not be applied (wrong amount or currency, an invoice paid
# meanwhile, an intent we do not know): staff are alerted. Arguments: invoice (or None), topic, message.
payment_alert = Signal()
