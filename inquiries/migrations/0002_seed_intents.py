from django.db import migrations

# DESIGN §1.3: the default intents; the stored value is the Korean name, as in the guide.
INTENTS = [
    ("배송문의", "배송 일정, 송장, 지연, 배송지 변경"),
    ("사용법", "사용 방법, 세탁·관리, 조립·설치, 첫 사용"),
    ("상품문의", "사이즈, 소재, 사양, 구성품, 호환"),
    ("교환반품", "교환·반품 신청과 절차, 불량 교환"),
    ("환불", "환불 시점과 방법"),
    ("주문취소", "주문 취소, 변경"),
    ("재입고", "품절 상품의 재입고 일정과 알림"),
    ("기타", "그 밖의 문의"),
]


def seed(apps, schema_editor):
    Intent = apps.get_model("inquiries", "Intent")
    for order, (name, description) in enumerate(INTENTS):
        Intent.objects.update_or_create(name=name, defaults={"description": description, "sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("inquiries", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
