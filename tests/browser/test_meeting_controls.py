"""The host's controls in the meeting view, each clicked as a person would: lock (a later
joiner is refused with the broker's sentence), remove a member (with a confirm step in
the page), hand the host role over (the other page gets the controls), end the meeting
for everyone (with a confirm step); and "I compared the code" (issue 8)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from browser.helpers import LiveServer, send_from_browser, until
from browser.meeting_pages import (
    LOCKED,
    Pages,
    chat_log,
    final,
    in_meeting,
    join_meeting,
    member,
    open_join_form,
    organizer_cookies,
    pages,
    roster,
    security_code,
    shot,
    start_meeting,
)

__all__ = ["organizer_cookies", "pages"]  # fixtures

CODE = re.compile(r"^\d{4} \d{4} \d{4} \d{4}$")
BO = 'Bo <img src="/static/favicon.svg">'  # a name that would be an image if read as HTML


def same_code(*pages_: Any) -> str:
    """Wait until every page shows one security code; that code."""

    def agreed() -> str | None:
        codes = {security_code(page) for page in pages_}
        code = codes.pop() if len(codes) == 1 else ""
        return code if CODE.match(code) else None

    return until(agreed, "the pages show the same security code")


def test_a_locked_meeting_refuses_a_later_joiner_until_unlocked(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Locked room", name="Olga")
    ann = pages.open().page
    join_meeting(ann, server, meeting, "Ann")

    host.get_by_role("button", name="Lock meeting").click()
    expect(host.get_by_role("button", name="Unlock meeting")).to_be_visible()
    expect(host.locator("#info-flags")).to_contain_text("Locked: nobody new can join")
    expect(chat_log(ann)).to_contain_text("The meeting is locked: nobody new can join.")
    expect(ann.locator("#info-flags")).to_contain_text("Locked")
    shot(host, "host-locked")

    late = pages.open().page
    open_join_form(late, server, meeting, "Larry Late")
    expect(late.get_by_role("alert")).to_have_text(LOCKED)
    expect(late.locator("#status")).to_have_text("Not connected")
    shot(late, "join-locked")

    host.get_by_role("button", name="Unlock meeting").click()
    expect(chat_log(ann)).to_contain_text("The meeting is unlocked.")
    expect(host.locator("#info-flags")).not_to_contain_text("Locked")
    late.get_by_role("button", name="Join").click()
    in_meeting(late)
    expect(member(host, "Larry Late")).to_be_visible()


def test_a_removed_member_is_told_and_the_others_go_on(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Town hall", name="Olga")
    troll, bo = pages.open().page, pages.open().page
    join_meeting(troll, server, meeting, "Troy Troll")
    join_meeting(bo, server, meeting, "Bo")
    expect(member(host, "Bo")).to_be_visible()

    row = member(host, "Troy Troll")
    row.get_by_role("button", name="Remove Troy Troll from the meeting").click()
    confirm = row.get_by_role("group", name="Remove Troy Troll?")
    expect(confirm).to_contain_text("Remove Troy Troll from the meeting?")
    shot(host, "host-expel-confirm")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    expect(member(bo, "Troy Troll")).to_be_visible()  # nothing happened

    row.get_by_role("button", name="Remove Troy Troll from the meeting").click()
    row.get_by_role("group", name="Remove Troy Troll?").get_by_role("button", name="Remove").click()
    final(troll, "You were removed from the meeting")
    expect(troll.locator("#final-text")).to_contain_text("cannot join it again")
    shot(troll, "final-expelled")
    for page in (host, bo):
        expect(roster(page)).not_to_contain_text("Troy Troll")
        expect(chat_log(page)).to_contain_text("Troy Troll was removed from the meeting")

    # The others go on, under a new key without the removed member.
    same_code(host, bo)
    send_from_browser(bo, "shall we go on?")
    expect(chat_log(host)).to_contain_text("Bo: shall we go on?")


def test_making_someone_host_hands_over_the_controls(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Handover", name="Olga")
    ann = pages.open().page
    join_meeting(ann, server, meeting, "Ann")
    before = same_code(host, ann)
    expect(ann.get_by_role("group", name="Host controls")).to_be_hidden()
    # no host controls: only "Send a file" (anyone may offer anyone a file)
    expect(
        member(ann, "Olga").get_by_role("button").filter(has_not_text="Send a file")
    ).to_have_count(0)

    member(host, "Ann").get_by_role("button", name="Make Ann the host").click()
    controls = ann.get_by_role("group", name="Host controls")
    expect(controls).to_be_visible()
    expect(member(ann, "Ann")).to_contain_text("Host")
    expect(member(ann, "Olga")).to_contain_text("Participant")
    expect(member(ann, "Olga").get_by_role("button", name="Make Olga the host")).to_be_visible()
    expect(chat_log(ann)).to_contain_text("You are now a host of this meeting.")
    expect(host.get_by_role("group", name="Host controls")).to_be_hidden()
    # no host controls: only "Send a file" (anyone may offer anyone a file)
    expect(
        member(host, "Ann").get_by_role("button").filter(has_not_text="Send a file")
    ).to_have_count(0)
    expect(chat_log(host)).to_contain_text("You are no longer a host.")
    # The key leader moved with the host role: a new epoch, a new code.
    until(lambda: security_code(ann) != before, "the new host starts a new epoch")
    same_code(host, ann)
    shot(ann, "new-host-controls")
    shot(host, "former-host")

    # The new host's controls work: lock, then end the meeting for everyone.
    controls.get_by_role("button", name="Lock meeting").click()
    expect(chat_log(host)).to_contain_text("The meeting is locked")
    controls.get_by_role("button", name="End meeting for all").click()
    ann.get_by_role("button", name="End for all").click()
    final(host, "The meeting has ended", "The host ended the meeting for everyone.")
    final(ann, "The meeting has ended")


def test_end_meeting_for_all_asks_first(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Stand-up", name="Olga")
    ann = pages.open().page
    join_meeting(ann, server, meeting, "Ann")

    host.get_by_role("button", name="End meeting for all").click()
    question = host.get_by_role("group", name="End the meeting for everyone?")
    expect(question).to_be_visible()
    shot(host, "host-end-confirm")
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_be_hidden()
    expect(host.get_by_role("button", name="End meeting for all")).to_be_visible()
    send_from_browser(ann, "still here")
    expect(chat_log(host)).to_contain_text("Ann: still here")

    host.get_by_role("button", name="End meeting for all").click()
    question.get_by_role("button", name="End for all").click()
    final(ann, "The meeting has ended", "The host ended the meeting for everyone.")
    final(host, "The meeting has ended", "The host ended the meeting for everyone.")
    expect(ann.get_by_role("link", name="Join a session")).to_be_visible()
    shot(ann, "final-ended-by-host")
    # Ended for good: the ID takes nobody any more.
    open_join_form(ann, server, meeting, "Ann again")
    expect(ann.get_by_role("alert")).not_to_be_empty()


def test_the_only_host_leaving_is_asked_and_participants_see_the_title(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Budget talk", name="Olga")
    ann = pages.open().page
    join_meeting(ann, server, meeting, "Ann")  # by the invite: the title comes with the join
    expect(ann.locator("#meeting-title")).to_have_text("Budget talk")

    host.get_by_role("button", name="Leave").click()
    question = host.get_by_role(
        "group", name="You are the only host. End the meeting for everyone, or leave it running?"
    )
    expect(question).to_be_visible()
    shot(host, "host-leave-question")
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_be_hidden()
    host.get_by_role("button", name="Leave").click()
    question.get_by_role("button", name="Leave it running").click()
    final(host, "You left the meeting")
    expect(member(ann, "Olga")).to_have_count(0)
    send_from_browser(ann, "still going")  # the meeting goes on without its host
    expect(ann.locator("#final-view")).to_be_hidden()


def test_the_host_decides_who_attendees_may_chat_with(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Q and A", name="Olga")
    ann, ben = pages.open().page, pages.open().page
    join_meeting(ann, server, meeting, "Ann")
    join_meeting(ben, server, meeting, "Ben")
    expect(member(host, "Ben")).to_be_visible()
    expect(ann.get_by_label("Attendees may chat")).to_be_hidden()  # leaders only

    host.get_by_label("Attendees may chat").select_option(label="only with the presenter and hosts")
    expect(chat_log(ann)).to_contain_text("only privately, with the presenter or a host")
    send_to = ann.get_by_label("Send to")
    expect(send_to.locator("option")).to_have_text(["Olga (privately)"])
    ann.get_by_label("Message").fill("a question for you")
    ann.get_by_role("button", name="Send", exact=True).click()
    expect(chat_log(host)).to_contain_text("Ann (privately): a question for you")
    expect(chat_log(ann)).to_contain_text("You to Olga: a question for you")
    send_from_browser(host, "answers for all")  # leaders still write to everyone
    expect(chat_log(ben)).to_contain_text("Olga: answers for all")
    expect(chat_log(ben)).not_to_contain_text("a question for you")
    shot(ann, "chat-presenter-only")

    host.get_by_label("Attendees may chat").select_option(label="not at all")
    expect(ann.get_by_label("Message")).to_be_disabled()
    expect(ann.get_by_label("Message")).to_have_attribute(
        "placeholder", "The presenter turned chat off"
    )
    host.get_by_label("Attendees may chat").select_option(label="with everyone")
    expect(ann.get_by_label("Message")).to_be_enabled()
    send_from_browser(ann, "thanks all")
    expect(chat_log(ben)).to_contain_text("Ann: thanks all")


def test_i_compared_the_code_marks_keys_verified_until_the_code_changes(
    pages: Pages, server: LiveServer, organizer_cookies: list[dict[str, Any]]
) -> None:
    host = pages.open(organizer_cookies).page
    meeting = start_meeting(host, server, title="Verify", name="Olga")
    ann = pages.open().page
    join_meeting(ann, server, meeting, "Ann")
    code = same_code(host, ann)
    expect(member(ann, "Olga")).to_contain_text("key not verified")
    expect(ann.locator("#verify-state")).to_have_text("Not compared yet")

    ann.get_by_role("button", name="I compared the code").click()
    expect(ann.locator("#verify-state")).to_have_text("Verified: you compared this code")
    expect(ann.get_by_role("button", name="I compared the code")).to_be_disabled()
    expect(member(ann, "Olga")).to_contain_text("key verified")
    expect(member(ann, "Ann")).to_contain_text("key verified")
    expect(member(host, "Ann")).to_contain_text("key not verified")  # each person compares
    shot(ann, "code-verified")

    bo = pages.open().page
    join_meeting(bo, server, meeting, BO)
    until(lambda: security_code(ann) != code, "a new code once Bo is in")
    same_code(host, ann, bo)
    expect(ann.locator("#verify-state")).to_have_text("New code: compare it again")
    expect(member(ann, "Olga")).to_contain_text("key not verified")
    expect(member(ann, BO)).to_contain_text("key not verified")
    # What people call themselves is shown as text, never read as markup.
    expect(roster(ann).locator("img")).to_have_count(0)
    expect(chat_log(ann)).to_contain_text(f"{BO} joined")
    expect(ann.get_by_role("button", name="I compared the code")).to_be_enabled()
    shot(ann, "code-changed")
