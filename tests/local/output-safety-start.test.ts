/** `npm start`'s output-safety flags: parsed as the functions parse the same lists, a bad one refused with one line. */
import { expect } from "chai";
import { USAGE, UsageError, parseStartArgs } from "../../local/start";

describe("npm start: output-safety flags", function () {
  it("passes --output-link-schemes and --output-image-hosts on, normalised; leaves them unset by default", function () {
    expect(parseStartArgs([])).to.deep.include({ outputLinkSchemes: undefined, outputImageHosts: undefined });
    expect(parseStartArgs(["--output-link-schemes", "HTTPS,mailto:", "--output-image-hosts", "Images.Example.com"])).to.deep.include({
      outputLinkSchemes: ["https", "mailto"],
      outputImageHosts: ["images.example.com"],
    });
    expect(USAGE).to.include("--output-link-schemes").and.include("--output-image-hosts");
  });

  it("refuses a script-running scheme or a non-host with the flag named", function () {
    expect(() => parseStartArgs(["--output-link-schemes", "https,javascript"])).to.throw(UsageError, /^--output-link-schemes: links with the "javascript:" scheme/);
    expect(() => parseStartArgs(["--output-image-hosts", "https://x.example"])).to.throw(UsageError, /^--output-image-hosts: "https:\/\/x.example" is not a host name/);
  });
});
