"""`snapask ask`, `history`, `show`, `export`: conversations from the terminal."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from snapask_desktop import actions, credentials
from snapask_desktop.ai.registry import PROVIDERS
from snapask_desktop.cli import exits, output
from snapask_desktop.cli.settings_cmd import load_settings


def register(commands: Any) -> None:
    """Add the conversation commands to the parser."""
    ask = commands.add_parser(
        "ask",
        help="ask about a picture; the answer streams in and the conversation is saved",
        description="snapask ask IMAGE QUESTION | ask IMAGE --action NAME | "
        "ask --continue ID QUESTION | ask --continue ID (retry an unanswered question)",
    )
    ask.add_argument(
        "words", nargs="*", metavar="[IMAGE] QUESTION", help="'-' reads the question from stdin"
    )
    ask.add_argument("--continue", dest="continue_id", metavar="ID", help="ask a follow-up")
    ask.set_defaults(trailing="words")  # `ask IMAGE --continue ID QUESTION` reads as written
    ask.add_argument(
        "--action",
        choices=list(actions.ACTIONS_BY_KEY),
        help="a quick action; extract reads the picture's text on this device (the ocr extra), "
        "no AI provider is asked",
    )
    ask.add_argument("--provider", choices=PROVIDERS, help="override the setting")
    ask.add_argument("--model", help="override the configured model")
    ask.add_argument("--no-cache", action="store_true", help="always ask the provider")
    ask.add_argument(
        "--redact",
        action="store_true",
        help="paint out suspected secrets before the picture is kept or sent (as the "
        "redact_secrets setting); if that cannot be done, nothing is sent",
    )
    ask.set_defaults(handler=run_ask)

    history = commands.add_parser("history", help="list conversations, newest first")
    history.add_argument("--search", metavar="TEXT", help="full-text search of titles and messages")
    history.add_argument("--limit", type=int, default=20, metavar="N")
    history.add_argument("--archived", action="store_true", help="include archived conversations")
    history.add_argument("--json", action="store_true", help="machine-readable output")
    history.set_defaults(handler=run_history)

    show = commands.add_parser("show", help="print one conversation")
    show.add_argument("id", help="conversation id (a unique prefix is enough)")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=run_show)

    export = commands.add_parser("export", help="write conversations with their pictures")
    export.add_argument("ids", nargs="*", metavar="ID", help="default: all conversations")
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.add_argument("--output", type=Path, metavar="DIR", help="default: ./snapask-export-TIME")
    export.set_defaults(handler=run_export)


def _services(settings: Any = None):
    from snapask_desktop.services import Services

    services = Services(settings or load_settings())
    if services.store.recovered is not None:
        output.note(f"store: {services.store.recovered}")
    return services


def _fail(message: str, code: int = exits.FAILED) -> int:
    output.error(message)
    return code


def _read_question(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def run_ask(args: argparse.Namespace) -> int:
    from snapask_desktop.ai.image_prep import check_image, load_image_file
    from snapask_desktop.ai.types import AIError
    from snapask_desktop.redact.guard import RedactionFailed
    from snapask_desktop.store.errors import StoreError

    words = list(args.words)
    if len(words) > 2 or (args.action and args.continue_id is None and len(words) != 1):
        return _fail("usage: snapask ask IMAGE QUESTION (or IMAGE --action NAME)", exits.USAGE)
    image_path = words.pop(0) if len(words) == 2 or (args.action and words) else None
    if image_path is None and args.continue_id is None and words and Path(words[0]).is_file():
        return _fail(
            f"what do you want to ask about {words[0]}? Add a question or --action", exits.USAGE
        )
    question = _read_question(words[0]) if words else ""
    settings = load_settings()
    if args.redact:
        settings = dataclasses.replace(settings, redact_secrets=True)
    read_here = args.action == "extract"
    if read_here:  # the reading keeps the picture's text itself: no second reading on a thread
        settings = dataclasses.replace(settings, read_picture_text=False)
    title = None
    if args.action:
        action = actions.find_action(args.action)
        title = f"{action.label}: {question}" if question.strip() else action.label
        question = f"{action.render(settings.translate_to)}\n\n{question}".strip()
    provider = args.provider or settings.provider
    model = args.model or settings.model_for(provider)
    try:
        image = None
        if image_path is not None:
            image = load_image_file(image_path)
            check_image(image)  # refuse a bad picture before anything is saved
        with _services(settings) as services:
            if read_here and image is None and args.continue_id is not None:
                _has_picture(services.store, args.continue_id)  # refuse before saving anything
            conversation_id = _save_question(services, args.continue_id, question, image, title)
            if read_here:
                return _read_here(services.store, conversation_id)
            return _stream_answer(services, conversation_id, provider, model, not args.no_cache)
    except AIError as error:
        return _fail(error.user_message)
    except (StoreError, credentials.CredentialError, ValueError, RedactionFailed) as error:
        return _fail(str(error))


def _save_question(
    services: Any, continue_id: str | None, question: str, image: bytes | None, title: str | None
) -> str:
    store = services.store
    if continue_id is None:
        if not question.strip():
            raise ValueError("the question is empty")
        return services.chat.start_conversation(question, image, title).conversation_id
    conversation_id = store.resolve_id(continue_id)
    if question.strip() or image is not None:
        services.chat.add_question(conversation_id, question, image)
    return conversation_id


def _has_picture(store: Any, continue_id: str) -> None:
    from snapask_desktop.local_read import newest_picture

    conversation_id = store.resolve_id(continue_id)
    if newest_picture(store.get_conversation(conversation_id)) is None:
        short = output.short_id(conversation_id)
        raise ValueError(f"conversation {short} has no picture to extract text from")


def _read_here(store: Any, conversation_id: str) -> int:
    """ "Extract text" as in the chat window: the picture is read on this device, the text is
    kept as the answer, and no provider is asked."""
    from snapask_desktop.local_read import keep_reading, read_picture
    from snapask_desktop.ocr import OcrError, OcrUnavailable

    short = output.short_id(conversation_id)
    try:
        text, engine = read_picture(store, conversation_id)
    except OcrUnavailable as error:
        output.error(f"Extract text reads the picture on this device, but {error}")
        output.note(
            f"your question is saved; to have the AI read the picture instead: "
            f"snapask ask --continue {short}"
        )
        return exits.FAILED
    except (OcrError, ValueError) as error:
        output.error(f"the text could not be read on this device: {error}")
        output.note(f"your question is saved; to ask the AI: snapask ask --continue {short}")
        return exits.FAILED
    keep_reading(store, conversation_id, text, engine)
    if text.strip():
        print(text)
    else:
        output.note("no text was found in the picture")
    output.note(f"conversation {short} (read on this device by {engine}; nothing was sent)")
    return exits.OK


def _stream_answer(
    services: Any, conversation_id: str, provider: str, model: str, cache: bool
) -> int:
    def on_retry(attempt: int, error: Any, wait_s: float) -> None:
        output.note(f"\n[{error.user_message} Retrying in {wait_s:.0f} s (attempt {attempt + 1})…]")

    answer = services.chat.answer(
        conversation_id, provider=provider, model=model, use_cache=cache, on_retry=on_retry
    )
    short = output.short_id(conversation_id)
    try:
        for chunk in answer:
            sys.stdout.write(chunk)
            sys.stdout.flush()
    except KeyboardInterrupt:
        print()
        output.note(f"stopped; what arrived is saved in conversation {short}")
        return exits.INTERRUPTED
    print()
    result = answer.result
    assert result is not None
    if result.save_error is not None:
        output.error(result.save_problem)
        return exits.FAILED
    if result.error is not None:
        output.error(result.error.user_message)
        output.note(f"your question is saved; retry with: snapask ask --continue {short}")
        return exits.FAILED
    cached = " (answered from the cache)" if result.from_cache else ""
    output.note(f"conversation {short}{cached}")
    return exits.OK


def run_history(args: argparse.Namespace) -> int:
    from snapask_desktop.store.errors import StoreError

    if not 1 <= args.limit <= 1000:
        return _fail("--limit must be between 1 and 1000", exits.USAGE)
    try:
        with _services() as services:
            if args.search:
                hits = services.store.search(args.search, limit=args.limit)
                rows = [(hit.summary, hit.marked()) for hit in hits]
            else:
                summaries = services.store.list_conversations(
                    limit=args.limit, include_archived=args.archived
                )
                rows = [(summary, None) for summary in summaries]
    except StoreError as error:
        return _fail(str(error))
    if args.json:
        print(json.dumps([_summary_json(s, snippet) for s, snippet in rows], ensure_ascii=False))
        return exits.OK
    if not rows:
        output.note("no matching conversations" if args.search else "no conversations yet")
        return exits.OK
    for summary, snippet in rows:
        flags = ("📌 " if summary.pinned else "") + ("[archived] " if summary.archived else "")
        print(
            f"{output.short_id(summary.id)}  {output.local_time(summary.last_activity_at)}  "
            f"{summary.message_count:>3}  {flags}{output.one_line(summary.title, 60)}"
        )
        if snippet:
            print(f"          {output.one_line(snippet, 100)}")
    return exits.OK


def _summary_json(summary: Any, snippet: str | None) -> dict[str, Any]:
    row = {
        "id": summary.id,
        "title": summary.title,
        "pinned": summary.pinned,
        "archived": summary.archived,
        "last_activity_at": summary.last_activity_at,
        "message_count": summary.message_count,
        "preview": summary.preview,
    }
    if snippet is not None:
        row["snippet"] = snippet
    return row


def run_show(args: argparse.Namespace) -> int:
    from snapask_desktop.store.errors import StoreError

    try:
        with _services() as services:
            store = services.store
            detail = store.get_conversation(store.resolve_id(args.id))
            pictures = {
                m.screenshot_sha256: store.screenshot_info(m.screenshot_sha256)
                for m in detail.messages
                if m.screenshot_sha256
            }
    except StoreError as error:
        return _fail(str(error))
    if args.json:
        from snapask_desktop.export import conversation_json

        print(
            json.dumps(
                conversation_json(detail, {sha: sha for sha in pictures}), ensure_ascii=False
            )
        )
        return exits.OK
    conversation = detail.conversation
    print(f"{conversation.title or 'Untitled'}")
    print(f"id {conversation.id} · started {output.local_time(conversation.created_at)}")
    for message in detail.messages:
        who = "You" if message.role == "user" else (message.model or "AI")
        state = {"cancelled": " (stopped)", "error": " (failed)", "pending": " (waiting)"}
        print(
            f"\n── {who}{state.get(message.status, '')} · {output.local_time(message.created_at)}"
        )
        if message.screenshot_sha256:
            info = pictures[message.screenshot_sha256]
            size = f"{info.width}x{info.height}, {info.size_bytes:,} bytes"
            print(f"[picture {size}, {info.sha256[:12]}]")
        print(message.text)
    return exits.OK


def run_export(args: argparse.Namespace) -> int:
    from snapask_desktop.export import all_conversation_ids, export
    from snapask_desktop.store.errors import StoreError

    folder = args.output or Path(time.strftime("snapask-export-%Y%m%d-%H%M%S"))
    try:
        with _services() as services:
            store = services.store
            ids = [store.resolve_id(i) for i in args.ids] or list(all_conversation_ids(store))
            report = export(store, ids, folder, args.format)
    except (StoreError, OSError) as error:
        return _fail(f"export failed: {error}")
    conversations = _count(report.conversations, "conversation")
    print(f"exported {conversations} and {_count(report.pictures, 'picture')} to {report.folder}")
    return exits.OK


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
