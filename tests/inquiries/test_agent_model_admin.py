"""The trained versions in the admin: figures, reliability diagrams and the sweep; only rollout managers
may activate or roll back a version."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from inquiries.agent import training
from inquiries.agent_models import train_and_store
from inquiries.models import AgentModel
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER, ensure_roles
from tests.inquiries.test_agent_training import small_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(monkeypatch):
    monkeypatch.setattr(training, "shipped_examples", lambda: small_world())
    return [train_and_store(actor="tester").model for _ in range(2)]


def user_with(django_user_model, role: str):
    ensure_roles()
    user = django_user_model.objects.create_user(role, password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def test_pages_show_figures_diagrams_and_the_sweep(admin_client, versions):
    listing = admin_client.get(reverse("admin:inquiries_agentmodel_changelist")).content.decode()
    assert "의도 정확도" in listing and "보정 오차(ECE)" in listing
    page = admin_client.get(reverse("admin:inquiries_agentmodel_change", args=[versions[0].pk])).content.decode()
    assert "<svg" in page and "임계값별 자동 전송" in page and "의도별 정밀도" in page
    assert "아직 사람이 검토한 초안이 없습니다" in page


def test_manager_activates_and_rolls_back(client, django_user_model, versions):
    client.force_login(user_with(django_user_model, ROLE_ROLLOUT_MANAGER))
    url = reverse("admin:inquiries_agentmodel_changelist")
    client.post(url, {"action": "activate", "_selected_action": [versions[0].pk]}, follow=True)
    client.post(url, {"action": "activate", "_selected_action": [versions[1].pk]}, follow=True)
    assert list(AgentModel.objects.filter(is_active=True).values_list("version", flat=True)) == [3]
    response = client.post(url, {"action": "rollback", "_selected_action": [versions[1].pk]}, follow=True)
    assert "버전 v2로 되돌렸습니다" in response.content.decode()
    assert list(AgentModel.objects.filter(is_active=True).values_list("version", flat=True)) == [2]


def test_cs_agent_sees_but_cannot_activate(client, django_user_model, versions):
    client.force_login(user_with(django_user_model, ROLE_CS_AGENT))
    url = reverse("admin:inquiries_agentmodel_changelist")
    page = client.get(url).content.decode()
    assert 'value="activate"' not in page
    client.post(url, {"action": "activate", "_selected_action": [versions[0].pk]})
    assert list(AgentModel.objects.filter(is_active=True).values_list("version", flat=True)) == [1]  # the shipped one
