"""What browser tests watch a page for."""

from playwright.async_api import ConsoleMessage, Page


def policy_violations(page: Page) -> list[str]:
    """The console's CSP reports from now on (Chromium writes each as an error message)."""
    reported: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            reported.append(message.text)

    page.on("console", keep)
    return reported
