// Worked examples in the format of the arithmetic domain the bundled model is trained on
// (trainer/README.md): a chain of operations applied left to right on values 0–99, one line per
// operation "<a><op><b>=<c>", then "Answer: <n>". The flawed ones make the student's classic
// mistakes, so a trained model's step rewards drop at the wrong step.
export const EXAMPLES = [
  {
    name: 'Correct: 48+27-39*2',
    prompt: '48+27-39*2',
    steps: ['48+27=75', '75-39=36', '36*2=72', 'Answer: 72'],
  },
  {
    name: 'Borrow mistake: 48+27-39*2',
    prompt: '48+27-39*2',
    steps: ['48+27=75', '75-39=44', '44*2=88', 'Answer: 88'],
  },
  {
    name: 'Forgotten carry: 58+36-40',
    prompt: '58+36-40',
    steps: ['58+36=84', '84-40=44', 'Answer: 44'],
  },
  {
    name: 'Multiplication carry: 13*4+25',
    prompt: '13*4+25',
    steps: ['13*4=42', '42+25=67', 'Answer: 67'],
  },
  {
    name: 'Correct, longer: 36+45-18+19-50',
    prompt: '36+45-18+19-50',
    steps: ['36+45=81', '81-18=63', '63+19=82', '82-50=32', 'Answer: 32'],
  },
];
