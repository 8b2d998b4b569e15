"""The portal speaks Bahasa Indonesia unless the user chose English with the switch in the header.

Django's ``LocaleMiddleware`` would follow the browser's Accept-Language, so a clerk whose phone is set to
English got an English portal with no way back. For pages only the choice stored by ``set_language`` (its
cookie) counts; without one, ``LANGUAGE_CODE`` (``id``). The API keeps negotiating by Accept-Language: its
callers are programs that ask for the language of their messages.
"""
from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class PortalLocaleMiddleware(LocaleMiddleware):
    """``LocaleMiddleware`` without the browser's say: the switch's cookie, else Bahasa Indonesia."""

    def process_request(self, request):
        if request.path.startswith("/api/"):
            return super().process_request(request)
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
