from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support import Stack, TestUser


@dataclass
class Chat:
    """A group conversation of two members and one person outside it."""

    id: str
    alice: TestUser
    bob: TestUser
    outsider: TestUser

    @property
    def topic(self) -> str:
        return f"realtime:conversation:{self.id}"


def make_chat(stack: Stack) -> Chat:
    alice, bob, outsider = stack.new_user(), stack.new_user(), stack.new_user()
    conversation = stack.sql(
        "insert into public.conversations (kind, title, created_by)"
        " values ('group', 'realtime test', %s) returning id",
        (alice.id,),
    )[0]["id"]
    for user in (alice, bob):
        stack.sql(
            "insert into public.conversation_members (conversation_id, user_id) values (%s, %s)",
            (conversation, user.id),
        )
    return Chat(str(conversation), alice, bob, outsider)


@pytest.fixture
def chat(stack: Stack) -> Chat:
    return make_chat(stack)
