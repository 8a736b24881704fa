"""Form 2 of a FAIR: product accountability, a row per material, process, test, certificate."""

from __future__ import annotations

from thread.domain import facts as f
from thread.domain.chain import Recorded
from thread.records.evidence import field, moment, not_applicable
from thread.records.fair_context import FirstArticle
from thread.records.fair_record import ProductRow
from thread.records.units import number, quantity, readings


class Products(FirstArticle):
    """Fills Form 2 from the first article's materials, operations, tests and certificates."""

    def products(self) -> tuple[ProductRow, ...]:
        self.derive("Form 2", "MaterialConsumed with the lot's MaterialLotReceived (materials), "
                    "OperationPerformed and ProcessRecorded (processes), TestRecorded "
                    "(functional tests), CertificationAttached (certificates)")
        rows = [self.material(e, c) for e, c in self.stream.facts(f.MaterialConsumed)]
        processes = self.stream.facts(f.ProcessRecorded)
        rows += [self.process(e, o, processes) for e, o in self.stream.facts(f.OperationPerformed)]
        rows += [self.test(e, t) for e, t in self.stream.facts(f.TestRecorded)]
        rows += [self.certificate(e, c) for e, c in self.stream.facts(f.CertificationAttached)]
        return tuple(rows)

    def material(self, event: Recorded, consumed: f.MaterialConsumed) -> ProductRow:
        refs = [self.ref(event)]
        lot = self.reader.stream("lot", consumed.material_lot)
        receipt = lot.first(f.MaterialLotReceived) if lot else None
        got = receipt[1] if receipt else None
        if lot is not None and receipt is not None:
            refs.append(self.reader.ref(lot, receipt[0]))
        acceptance = [c for _, c in lot.facts(f.CertificationAttached)] if lot else []
        check = ("certificate digest matches the lot's receipt"
                 if got and got.certificate_digest and consumed.certificate_digest
                 == got.certificate_digest else
                 "MISMATCH: certificate digest differs from the lot's receipt"
                 if got and got.certificate_digest and consumed.certificate_digest
                 else "certificate digest not checked")
        comment = (f"lot {consumed.material_lot}" + (f", heat {got.heat}" if got and got.heat
                                                     else "")
                   + f"; {quantity(consumed.quantity, consumed.unit)} consumed; {check}")
        return ProductRow(kind="material", fields=(
            field("Material or Process Name", got.material if got else None,
                  "MaterialLotReceived.material", refs, number="5"),
            field("Specification Number", got.specification if got else None,
                  "MaterialLotReceived.specification", refs, number="6"),
            field("Code", None, "no fact records a material code (type, class, grade)",
                  number="7"),
            field("Special Process Supplier Code", got.supplier if got else None,
                  "MaterialLotReceived.supplier (the material's supplier)", refs, number="8"),
            field("Customer Approval Verification", None, "no fact records customer "
                  "approval of sources", number="9"),
            field("Certificate of Conformance Number", got.certificate_number if got else None,
                  "MaterialLotReceived.certificate_number", refs, number="10"),
            not_applicable("Functional Test Procedure Number", "material", number="11"),
            field("Acceptance Report Number", "; ".join(c.number for c in acceptance) or None,
                  "CertificationAttached on the material lot", number="12"),
            field("Comments", comment, "MaterialConsumed and MaterialLotReceived", refs,
                  number="13", status="derived"),
        ))

    def process(self, event: Recorded, operation: f.OperationPerformed,
                processes: list[tuple[Recorded, f.ProcessRecorded]]) -> ProductRow:
        refs = [self.ref(event)]
        parameters = ""
        for process_event, process in processes:
            if process.operation == operation.operation and process.started_at == (
                    operation.started_at):
                refs.append(self.ref(process_event))
                parameters = "; parameters " + ", ".join(
                    f"{p.name} {quantity(p.mean, p.unit)} ({number(p.min)} to "
                    f"{quantity(p.max, p.unit)}, n {p.n})" for p in process.parameters)
        site = self.registration.site
        comment = (f"station {operation.station}"
                   + (f", machine {operation.machine}" if operation.machine else "")
                   + f", program {operation.program or 'not recorded'} rev "
                   + f"{operation.program_revision or 'not recorded'}, operator "
                   + f"{operation.operator}, {moment(operation.started_at)}"
                   + (f", site {site}" if site else "") + parameters)
        return ProductRow(kind="process", fields=(
            field("Material or Process Name", operation.operation,
                  "OperationPerformed.operation", refs, number="5"),
            field("Specification Number", None, "no fact records a process specification",
                  number="6"),
            field("Code", None, "no fact records a process code", number="7"),
            field("Special Process Supplier Code", None, "no fact records a supplier code; "
                  "the operation ran in-house at the station named in the comments",
                  number="8"),
            field("Customer Approval Verification", None, "no fact records customer approval "
                  "of process sources", number="9"),
            field("Certificate of Conformance Number", None, "no certificate recorded for the "
                  "operation", number="10"),
            not_applicable("Functional Test Procedure Number", "process", number="11"),
            field("Acceptance Report Number", None, "no acceptance report recorded for the "
                  "operation", number="12"),
            field("Comments", comment, "OperationPerformed and ProcessRecorded", refs,
                  number="13", status="derived"),
        ))

    def test(self, event: Recorded, test: f.TestRecorded) -> ProductRow:
        refs = (self.ref(event),)
        values = readings(test.values)
        return ProductRow(kind="functional test", fields=(
            field("Material or Process Name", f"functional test {test.procedure}",
                  "TestRecorded.procedure", refs, number="5"),
            field("Specification Number", None, "no fact records a test specification",
                  number="6"),
            not_applicable("Code", "functional test", number="7"),
            not_applicable("Special Process Supplier Code", "functional test", number="8"),
            field("Customer Approval Verification", None, "no fact records customer approval",
                  number="9"),
            not_applicable("Certificate of Conformance Number", "functional test", number="10"),
            field("Functional Test Procedure Number", test.procedure
                  + (f" rev {test.procedure_revision}" if test.procedure_revision else
                     " (revision not recorded)"), "TestRecorded.procedure, procedure_revision",
                  refs, number="11"),
            field("Acceptance Report Number", test.report, "TestRecorded.report", refs,
                  number="12"),
            field("Comments", f"{test.verdict.upper()}" + (f": {values}" if values else ""),
                  "TestRecorded.verdict and values", refs, number="13"),
        ))

    def certificate(self, event: Recorded, certificate: f.CertificationAttached) -> ProductRow:
        refs = (self.ref(event),)
        return ProductRow(kind="certificate", fields=(
            field("Material or Process Name", f"{certificate.document} certificate",
                  "CertificationAttached.document", refs, number="5"),
            field("Specification Number", None, "not recorded with the certificate", number="6"),
            field("Code", None, "not recorded with the certificate", number="7"),
            field("Special Process Supplier Code", certificate.issuer,
                  "CertificationAttached.issuer", refs, number="8"),
            field("Customer Approval Verification", None, "no fact records customer approval",
                  number="9"),
            field("Certificate of Conformance Number", certificate.number,
                  "CertificationAttached.number", refs, number="10"),
            not_applicable("Functional Test Procedure Number", "certificate", number="11"),
            field("Acceptance Report Number", None, "not recorded with the certificate",
                  number="12"),
            field("Comments", f"document digest {certificate.digest}",
                  "CertificationAttached.digest", refs, number="13"),
        ))

