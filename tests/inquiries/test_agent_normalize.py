"""inquiries.agent.normalize: the forms every matcher runs on."""

from __future__ import annotations

import pytest

from inquiries.agent.normalize import (
    MAX_CHARS,
    has_final_consonant,
    initial_consonant,
    normalize,
    normalize_pattern,
)


def test_normalize__full_width_and_zero_width__are_cleaned():
    nt = normalize("ＡＢＣ\u200b배\u200d송\ufeff  언제\t\n와요")
    assert nt.text == "ABC배송 언제 와요"
    assert nt.compact == "abc배송언제와요"


def test_normalize__control_characters_and_hangul_fillers__are_dropped():
    assert normalize("환\x00불\x07 \u3164요청").compact == "환불요청"


def test_normalize__emoji__removed_for_matching_but_kept_in_text():
    nt = normalize("잘 받았어요 😊🙏 감사해요❤️")
    assert "😊" in nt.text and "😊" in nt.original
    assert nt.match == "잘 받았어요 감사해요"
    assert nt.compact == "잘받았어요감사해요"


def test_normalize__keyboard_jamo__survive_nfkc():
    # NFKC turns ㅅㅂ into conjoining jamo; patterns are written with keyboard jamo.
    assert normalize("ㅅㅂ ㅠㅠ").compact == "ㅅㅂㅠㅠ"


def test_normalize__compact__is_space_and_punctuation_insensitive():
    assert normalize("소 비 자 원 에!!").compact == normalize("소비자원에").compact == "소비자원에"


def test_normalize__masked__marks_masking_characters_and_keeps_spaces():
    assert normalize("시1발 씨X 장난").masked == "시*발 씨* 장난"
    assert normalize("ㅅ.ㅂ").masked == "ㅅ*ㅂ"


def test_normalize__long_text__is_capped_and_flagged():
    nt = normalize("가" * (MAX_CHARS + 10))
    assert nt.truncated and len(nt.text) == MAX_CHARS
    assert not normalize("가" * 10).truncated


@pytest.mark.parametrize("raw", [None, "", "   ", "\x00\x01", "\u200b\u200b", "😊😊"])
def test_normalize__nothing_to_read__is_empty(raw):
    assert normalize(raw).is_empty


def test_normalize__non_string__does_not_raise():
    assert normalize(12345).compact == "12345"  # type: ignore[arg-type]


def test_normalize_pattern__matches_how_text_is_normalised():
    assert normalize_pattern("언제 와요?") == "언제와요"
    assert normalize_pattern("KC 인증") == "kc인증"


@pytest.mark.parametrize(
    ("ch", "initial"), [("시", "ㅅ"), ("씨", "ㅆ"), ("발", "ㅂ"), ("가", "ㄱ"), ("a", None), ("ㅅ", None)]
)
def test_initial_consonant(ch, initial):
    assert initial_consonant(ch) == initial


@pytest.mark.parametrize(("ch", "final"), [("책", True), ("서", False), ("울", True), ("1", None)])
def test_has_final_consonant(ch, final):
    assert has_final_consonant(ch) is final
