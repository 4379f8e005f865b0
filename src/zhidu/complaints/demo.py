"""Demo complaints: about 30 cases at every stage of the workflow, created through the services under the
pack in force (its channels, categories, steps and approval chains). A step the pack does not allow, or
a person it does not name, simply leaves that case at the stage it reached."""

import random

from zhidu.kernel.errors import ApiError

from . import services

SUBJECTS = [
    ("送货延误", "约定周三送到，周五仍未送达，多次催问无人答复。"),
    ("产品包装破损", "收到的两箱产品外包装破损，部分产品受潮。"),
    ("服务态度生硬", "电话咨询时客服语气生硬，没有解答问题就挂断。"),
    ("发票开错", "发票抬头与合同不一致，要求重开。"),
    ("维修不及时", "报修三天无人上门，影响正常使用。"),
    ("收费有异议", "本月账单多收了一笔服务费。"),
    ("产品质量问题", "使用一周后出现故障，要求更换。"),
    ("承诺未兑现", "销售人员承诺的赠品一直未发放。"),
]
NAMES = ["王先生", "李女士", "张先生", "刘女士", "陈先生", "杨女士", "赵先生", "黄女士", "周先生", "吴女士"]
# How far each demo case goes: 0 registered … 10 closed; "rejected", "waiting", "reopened" are special.
STAGES = [0, 0, 0, "rejected", "rejected", 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 9, 9, "waiting", "waiting",
          "reopened", "major"]


def _try(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ApiError:
        return None


def _version(complaint):
    complaint.refresh_from_db()
    return complaint.version


def load(users: dict, customers: list) -> list:
    from zhidu.kernel import policy

    rng = random.Random(20261001)
    receiver = users.get("agent") or users["sales"]
    handler = users.get("sales") or receiver  # in a department whose manager approves plans in the demo tree
    quality = users.get("quality") or users["gm"]
    manager = users.get("manager")
    channels = [o["key"] for o in policy.value("complaints.channels")]
    categories = [o["key"] for o in policy.value("complaints.categories") if not o.get("parent")] or [""]
    major_reasons = [o["key"] for o in policy.value("complaints.major.reasons")]
    created = []
    for index, stage in enumerate(STAGES):
        subject, content = SUBJECTS[index % len(SUBJECTS)]
        customer = customers[index * 7 % len(customers)] if customers and index % 4 else None
        data = {
            "complainant_name": NAMES[index % len(NAMES)],
            "complainant_phone": f"1390000{index:04d}",
            "subject": subject,
            "content": content,
            "channel": channels[index % len(channels)],
            "category": categories[index % len(categories)],
            "customer": customer.pk if customer else None,
        }
        if stage == "major" and major_reasons:
            data["major_reasons"] = [major_reasons[0]]
        complaint = _try(services.complaint_register, receiver, data)
        if complaint is None:
            continue
        created.append(complaint)
        if stage == 0:
            continue
        if stage == "rejected":
            _try(services.complaint_decide, quality, complaint.pk, False, reply_text="经核实属于对政策的误解，已向客户耐心解释。",
                 expected_version=_version(complaint))
            continue
        level = {"waiting": 2, "reopened": 9, "major": 1}.get(stage, stage)
        steps = [
            lambda c: services.complaint_decide(quality, c.pk, True, expected_version=_version(c)),
            lambda c: services.complaint_assign(quality, c.pk, department=handler.department_id, owner=handler.pk, expected_version=_version(c)),
            lambda c: services.complaint_investigate(handler, c.pk, cause="经调查，" + subject + "属实。", expected_version=_version(c)),
            lambda c: services.complaint_propose_remedy(handler, c.pk, description="向客户致歉并补偿", compensation=rng.choice([0, 100, 500]),
                                                        expected_version=_version(c)),
            lambda c: _approve(c, manager, quality, users.get("gm")),
            lambda c: services.complaint_carry_out(handler, c.pk, note="已按方案处理", expected_version=_version(c)),
            lambda c: services.complaint_inform(handler, c.pk, message="您的投诉已处理完毕，感谢反馈。", expected_version=_version(c)),
            lambda c: services.complaint_return_visit(quality, c.pk, satisfied=True, note="电话回访，客户满意", expected_version=_version(c)),
            lambda c: services.complaint_close(quality, c.pk, summary="加强培训与交付跟踪", corrective_actions="重新培训",
                                               preventive_actions="每周抽查", expected_version=_version(c)),
        ]
        for step in steps[: level if level < 9 else len(steps)]:
            if _try(step, complaint) is None:
                break
        if stage == "waiting":
            _try(services.complaint_wait_for_complainant, handler, complaint.pk, note="等待客户提供照片和单据", expected_version=_version(complaint))
        if stage == "reopened":
            _try(services.complaint_reopen, quality, complaint.pk, reason="客户再次来电，问题复发", expected_version=_version(complaint))
    return created


def _approve(complaint, *approvers):
    plan = complaint.remedies.order_by("-id").first()
    if plan is None or plan.approval_id is None:
        return plan
    for user in approvers:
        if user is not None:
            _try(services.approval_decide, user, plan.approval_id, True, comment="同意")
    return plan
