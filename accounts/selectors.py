"""Reads for sign-in. ``account_for_login`` is the one answer to "which account does this login name",
shared by the authentication backend and the lockout counters, so the two can never disagree."""

from accounts.models import User


def account_for_login(login: str) -> User | None:
    """The account a username or an email address signs in to, or None.

    An email address matches whatever its letter case (one stored with capitals too); an address that
    two accounts share in different cases names neither. A username matches exactly, as Django's
    ``ModelBackend`` looks it up.
    """
    login = login.strip()
    if not login:
        return None
    if "@" in login:
        matches = list(User.objects.filter(email__iexact=login)[:2])
        if len(matches) == 1:
            return matches[0]
    return User.objects.filter(username=login).first()
