"""Who gets in, seen in the pages: the lobby (the host admits one person and refuses
another), join before host off (the waiting card until the host arrives), and a
two-party support session (a third person is refused; it ends when the other leaves)
(issue 8)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from browser.helpers import LiveServer
from browser.meeting_pages import (
    BOTH_PARTIES,
    Pages,
    chat_log,
    fill_start_form,
    final,
    in_meeting,
    join_meeting,
    lobby_row,
    member,
    open_join_form,
    organizer_cookies,
    pages,
    roster,
    shot,
    signed_in,
    start_meeting,
    waiting,
)

__all__ = ["organizer_cookies", "pages"]  # fixtures

LET_IN = "Waiting for the host to let you in"
NOT_STARTED = "Waiting for the host to start the meeting"


def test_the_host_admits_one_person_and_refuses_another(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Interviews", name="Olga", lobby=True)
    ann, rob = pages.open().page, pages.open().page
    open_join_form(ann, server, meeting, "Ann Applicant", email="ann@example.org")
    waiting(ann, LET_IN)
    expect(ann.locator("#status")).to_have_text("Waiting in the lobby")
    expect(ann.locator("#waiting-text")).to_contain_text("as soon as they let you in")
    shot(ann, "waiting-lobby")
    open_join_form(rob, server, meeting, "Rob Refused")
    waiting(rob, LET_IN)

    # The host sees both waiting, with the e-mail address one of them gave.
    expect(lobby_row(host, "Ann Applicant")).to_contain_text("ann@example.org")
    expect(lobby_row(host, "Rob Refused")).to_be_visible()
    expect(host.get_by_role("button", name="Admit everyone")).to_be_visible()
    expect(chat_log(host)).to_contain_text("Ann Applicant is waiting in the lobby")
    expect(roster(host)).not_to_contain_text("Ann Applicant")
    shot(host, "host-lobby-two-waiting")

    host.get_by_role("button", name="Admit Ann Applicant", exact=True).click()
    in_meeting(ann)
    expect(member(ann, "Olga")).to_contain_text("Host")
    expect(member(host, "Ann Applicant")).to_contain_text("Participant")
    expect(lobby_row(host, "Ann Applicant")).to_have_count(0)
    # Everyone sees the lobby (without the e-mail addresses: those are for hosts).
    expect(lobby_row(ann, "Rob Refused")).to_be_visible()
    expect(ann.get_by_role("list", name="Lobby").get_by_role("button")).to_have_count(0)

    host.get_by_role("button", name="Refuse Rob Refused", exact=True).click()
    final(rob, "The host did not let you in", "A host refused your entry to this meeting.")
    expect(rob.locator("#status")).to_have_text("A host refused your entry to this meeting.")
    shot(rob, "final-refused")
    expect(host.locator("#lobby-panel")).to_be_hidden()
    expect(chat_log(host)).to_contain_text("Rob Refused was not let in")
    expect(roster(host)).not_to_contain_text("Rob Refused")
    expect(roster(ann)).not_to_contain_text("Rob Refused")


def test_without_join_before_host_people_wait_until_the_host_arrives(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    host.goto(f"{server.url}/host")
    signed_in(host)
    fill_start_form(host, title="Board meeting", name="Olga", join_before_host=False)
    host.get_by_role("button", name="Create for later").click()
    created = host.get_by_role("list", name="Meetings created here")
    meeting = str(created.locator(".mono").first.text_content()).replace(" ", "")

    early = pages.open().page
    open_join_form(early, server, meeting, "Eve Early")
    waiting(early, NOT_STARTED)
    expect(early.locator("#waiting-text")).to_contain_text("as soon as the host arrives")
    shot(early, "waiting-host-absent")

    created.get_by_role("button", name="Join Board meeting as host").click()
    in_meeting(host)
    in_meeting(early)
    expect(member(early, "Olga")).to_contain_text("Host")
    expect(member(host, "Eve Early")).to_be_visible()
    shot(early, "admitted-when-host-arrived")


def test_a_support_session_takes_two_and_ends_when_one_leaves(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Printer help", name="Olga", two_party=True)
    expect(host.locator("#info-flags")).to_contain_text("Support session: two people")
    customer = pages.open().page
    join_meeting(customer, server, meeting, "Carl Customer")
    expect(customer.locator("#info-flags")).to_contain_text("Support session: two people")

    third = pages.open().page
    open_join_form(third, server, meeting, "Tom Third")
    expect(third.get_by_role("alert")).to_have_text(BOTH_PARTIES)
    expect(third.get_by_role("button", name="Join")).to_be_enabled()
    shot(third, "join-two-party-full")

    customer.get_by_role("button", name="Leave").click()
    final(customer, "You left the meeting")
    final(host, "The meeting has ended", "The other party left: this support session has ended.")
    shot(host, "final-two-party-ended")
