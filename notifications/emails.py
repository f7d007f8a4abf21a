"""Building emails from templates: `templates/emails/<name>-subject.txt`,
`-body.txt` and `-body.html`. Every email has a text part."""

from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body_text: str
    body_html: str


def render(name: str, context: dict[str, object], language: str | None = None) -> RenderedEmail:
    """The email in `language` (words, dates and money), by default the active one."""
    with translation.override(language or translation.get_language()):
        subject = render_to_string(f"emails/{name}-subject.txt", context)
        return RenderedEmail(
            # A subject is one line whatever the template's whitespace.
            subject=" ".join(subject.split()),
            body_text=render_to_string(f"emails/{name}-body.txt", context).strip() + "\n",
            body_html=render_to_string(f"emails/{name}-body.html", context),
        )


def render_each(name: str, context: dict[str, object], languages: dict[str, str]) -> dict[str, RenderedEmail]:
    """The email for each recipient in that recipient's language, rendered once per language."""
    by_language = {language: render(name, context, language) for language in set(languages.values())}
    return {recipient: by_language[language] for recipient, language in languages.items()}


def sender(seller_name: str) -> str:
    """The MSP's name in front of the configured sending address."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((seller_name, address)) if seller_name else settings.DEFAULT_FROM_EMAIL


def build_message(
    *,
    subject: str,
    body_text: str,
    body_html: str,
    to: str,
    from_name: str,
    reply_to: str,
    attachments: list[tuple[str, bytes, str]],
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=subject,
        body=body_text,
        from_email=sender(from_name),
        to=[to],
        reply_to=[reply_to] if reply_to else None,
    )
    if body_html:
        message.attach_alternative(body_html, "text/html")
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    return message
